"""The paper's own numbers (typed from ../shared/paper/enhancenet-paper.md), COCO val2017, percent.

Table 4: SimpleBaseline (ResNet-50) with and without EnhanceNet; Table 5: ablations on that model.
Columns (AP, AP50, AP75, AR); Table 5 rows also (#Params in M, GFLOPs) of the head.
"""

from __future__ import annotations

__all__ = ["TABLE4", "TABLE5"]

TABLE4: dict[str, tuple[float, float, float, float]] = {
    "base": (70.2, 88.7, 77.7, 76.1),
    "enhancenet": (71.3, 88.9, 78.5, 77.1),
}

# variant name -> (params M, GFLOPs, AP, AP50, AP75, AR); None where the paper prints "-".
TABLE5: dict[str, tuple[float | None, float | None, float, float, float, float]] = {
    "in_F": (None, None, 71.0, 88.7, 78.3, 76.7),
    "in_M": (None, None, 71.1, 88.9, 78.3, 77.0),
    "enhancenet": (0.50, 1.52, 71.3, 88.9, 78.5, 77.1),
    "c64": (0.21, 0.65, 70.8, 88.7, 78.2, 76.7),
    "c256": (1.29, 3.95, 71.4, 89.0, 78.5, 77.2),
    "bilinear_conv3": (0.20, 1.52, 70.9, 88.9, 78.2, 76.8),
    "deconv3": (0.20, 1.52, 70.8, 88.8, 78.1, 76.6),
    "deconv12": (0.50, 15.96, 71.2, 88.7, 78.5, 76.9),
    "base": (None, None, 70.2, 88.7, 77.7, 76.1),
    "r2": (0.26, 0.80, 70.4, 88.8, 78.4, 76.3),
    "r3": (0.36, 1.10, 71.0, 88.6, 78.5, 76.7),
    "r5": (0.67, 2.06, 71.2, 88.8, 78.6, 77.0),
}
