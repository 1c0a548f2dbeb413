"""See inside a trained classifier: Grad-CAM, feature maps, first-layer filters, and the
receptive field of a unit (from `kcnn.analysis`), as PNGs on the original image.

Example:
>>> from kcnn.predict import load_predictor
>>> model, prep = load_predictor("runs/quickstart")
>>> result = kcnn.explain.explain_image(model, prep, "digit.png", "out", zoom=8)
>>> result.cam.class_index, result.files["gradcam"]
(3, 'out/gradcam.png')
"""

from kcnn.explain.geometry import (Placement, UnitField, layer_fields, on_original,
                                   placement, unit_field)
from kcnn.explain.gradcam import (GradCam, default_layer, find_layer, grad_cam,
                                  score_gradients, spatial_layers)
from kcnn.explain.pictures import FILES, Explanation, explain_image, load_image
