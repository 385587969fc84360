"""cupy.cuda.runtime on the stand-in: one pretend GPU."""
from .. import _fake


def getDeviceCount():
    return 1


def deviceSynchronize():
    _fake.ledger.sync("runtime.deviceSynchronize")


def getDevice():
    return 0


is_hip = False
