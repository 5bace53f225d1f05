"""Simulator of the source systems: writes daily landing batches and the ground truth to check the lake.

Pure Python and numpy (no Spark). `generate` is the entry point; `DEFECT_KINDS` is the shared vocabulary of
planted defects, and `contract` describes the landing files.
"""

from .contract import ENTITIES, EntitySpec
from .defects import DEFECT_KINDS, DefectKind
from .generate import SimulatorArgumentError, generate

__all__ = ["DEFECT_KINDS", "ENTITIES", "DefectKind", "EntitySpec", "SimulatorArgumentError", "generate"]
