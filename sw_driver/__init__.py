"""Host side of Hotline: DLRM data pipeline and driver for the accelerator.

* :mod:`sw_driver.data`: Criteo reader, Kaggle-shaped generator, MovieLens-100K, DataLoader.
* :class:`HotlineDriver` (async) / :class:`SyncHotlineDriver` over a
  :class:`~sw_driver.transport.Transport`: :class:`ModelDevice` (golden models, pure Python),
  :class:`sw_driver.cocotb_transport.CocotbTransport` (the RTL in a cocotb simulation) or
  :class:`sw_driver.native.NativeTransport` (the RTL under a C++ harness, Verilator speed).
"""

from .driver import (HotlineDriver, HotlineError, HotSetOverflowError, SyncHotlineDriver,
                     TableLayout, WorkingSetResult)
from .model_device import ModelDevice, NumpyMemory
from .transport import Transport, TransportTimeout

__all__ = ["HotlineDriver", "SyncHotlineDriver", "HotlineError", "HotSetOverflowError",
           "TableLayout", "WorkingSetResult", "ModelDevice", "NumpyMemory", "Transport",
           "TransportTimeout"]
