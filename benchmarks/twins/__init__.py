"""PyTorch twins of tinygen's models (one module per family), for parity tests and timings."""
import importlib


def loaded(module, cls, model, *args):
    """The twin ``twins.MODULE.CLS(*args)`` holding tinygen ``model``'s weights (state_dict 1:1)."""
    twin = importlib.import_module(f"{__name__}.{module}")
    theirs = getattr(twin, cls)(*args)
    theirs.load_state_dict(twin.ported(model.state_dict()))
    return theirs
