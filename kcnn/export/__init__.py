"""Export for TF Serving: versioned, atomic SavedModels with verification; ONNX and LiteRT
files in the same layout (`kcnn.export.portable`, docs/deployment.md).

See `docs/serving.md`. This package uses TensorFlow (and `tensorflow-serving-api` for
the warm-up records); the SavedModels it writes need TensorFlow only.
"""

from kcnn.export.saved_model import ExportResult, existing_versions, export_saved_model
from kcnn.export.signatures import (BYTES_INPUT, BYTES_SIGNATURE, FLOAT_INPUT,
                                    FLOAT_SIGNATURE)
from kcnn.export.verify import VerificationError, verify_saved_model
from kcnn.export.portable import PortableExport, export_portable
