"""See inside a network: shapes, parameters, MACs and receptive fields per layer."""

from kcnn.analysis.arithmetic import conv_output_size, same_padding
from kcnn.analysis.summary import Summary, format_table, summarize
