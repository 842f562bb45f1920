"""Host side of Hotline: DLRM data pipeline and driver for the accelerator."""
