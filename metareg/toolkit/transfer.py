"""Host-to-device copies that do not stall the device's queue.

Why: a meta-step's GPU kernels are queued asynchronously, so the host can sample the next episodes while the GPU
still works on the last step. CUDA makes a copy from ordinary (pageable) host memory wait for the stream's queued
work first, which serialises sampling with the step; a ``non_blocking`` copy from page-locked (pinned) memory does
not wait, and torch's pinned-memory cache keeps the block alive until the copy has finished. On the CPU a tensor
already on its device is returned as it is.
"""
from __future__ import annotations

import torch


def to_device(tensor: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """``tensor`` on ``device``; from host memory to a CUDA device through a pinned buffer and an asynchronous copy."""
    device = torch.device(device)
    if tensor.device == device or (device.index is None and tensor.device.type == device.type):
        return tensor
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)
