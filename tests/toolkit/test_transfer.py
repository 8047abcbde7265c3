"""Episodes reach a GPU through pinned memory and an asynchronous copy; on the CPU they are not copied at all."""
from __future__ import annotations

from unittest import mock

import torch

from metareg.toolkit.tasks import TaskBatch
from metareg.toolkit.transfer import to_device


def test_a_tensor_already_on_the_device_is_returned_as_it_is():
    t = torch.arange(6.0)
    assert to_device(t, "cpu") is t and to_device(t, torch.device("cpu")) is t


def test_a_host_tensor_bound_for_a_gpu_is_pinned_then_copied_without_blocking():
    pinned = mock.Mock()
    host = mock.Mock(device=torch.device("cpu"))
    host.pin_memory.return_value = pinned
    to_device(host, "cuda:0")
    host.pin_memory.assert_called_once_with()
    pinned.to.assert_called_once_with(torch.device("cuda:0"), non_blocking=True)
    host.to.assert_not_called()


def test_a_non_blocking_batch_move_goes_through_to_device_and_a_plain_one_does_not():
    batch = TaskBatch(torch.zeros(2, 3, 1), torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 4, 1),
                      torch.ones(2, 4, dtype=torch.long))
    moved = batch.to("cpu", non_blocking=True)
    assert moved.support_x is batch.support_x and moved.query_y is batch.query_y
    with mock.patch("metareg.toolkit.tasks.to_device", wraps=to_device) as spy:
        batch.to("cpu")
        assert spy.call_count == 0
        batch.to("cpu", non_blocking=True)
        assert spy.call_count == 4
