"""RTL back end: Verilog kernels + generated top, Verilator, Yosys, nextpnr-ecp5.

Example:
    >>> from hwprune.export.rtl import write_rtl, run_rtl_sim
    >>> design = write_rtl(graph, "out/rtl")                   # doctest: +SKIP
    >>> run_rtl_sim(design, "out/rtl", "out/golden").bit_exact  # doctest: +SKIP
    True
"""

from hwprune.export.rtl.generate import RtlDesign, write_rtl
from hwprune.export.rtl.sim import RtlSimResult, run_rtl_sim
from hwprune.export.rtl.tools import RtlToolError

__all__ = ["RtlDesign", "RtlSimResult", "RtlToolError", "run_rtl_sim", "write_rtl"]
