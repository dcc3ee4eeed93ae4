"""FastKV: SnapKV up to the TSP layer, then propagate k tokens at their original positions (methods.md §4)."""

from __future__ import annotations

from dataclasses import dataclass

from asl.methods.base import Session, relative_depth
from asl.methods.families import PropagatingMethod
from asl.methods.selectors import FixedLayerSelector
from asl.methods.sessions import OnePassSession


@dataclass(frozen=True, kw_only=True)
class FastKV(PropagatingMethod):
    """Token-selective propagation at a fixed layer ``tsp_layer``."""

    tsp_layer: int | None

    display_name = "FastKV"
    color = "#0072B2"
    full_before_color = "#56B4E9"
    marker = "^"
    order = 20
    model_keys = {"tsp_layer": relative_depth(0.47)}
    layer_keys = ("tsp_layer",)

    def planned_layer(self) -> int | None:
        return self.tsp_layer

    def new_session(self, num_layers: int, prompt_len: int) -> Session:
        selector = FixedLayerSelector(self.tsp_layer, self.num_keep, self.window)
        return OnePassSession(
            num_layers, prompt_len, self.window, self.pool_kernel, self.compressor(), selector
        )
