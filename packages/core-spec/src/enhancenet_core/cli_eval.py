"""Evaluation sub-commands of ``enhancenet-spec`` (eval-coco, eval-mpii). Filled in by the metrics work."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:  # pragma: no cover - placeholder
    """Add the evaluation sub-commands to the ``enhancenet-spec`` parser."""
