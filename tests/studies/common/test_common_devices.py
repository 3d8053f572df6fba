import pytest
import torch

from studies.common.devices import resolve_device


def test_cpu_and_auto_resolve() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_cuda_without_gpu_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the answer this CPU machine gives anyway
    with pytest.raises(ValueError, match="device=cpu"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")
