"""``make paper``'s plots of the main experiment: the access CDF with Kaggle's published point,
the capacity / ways / window sweeps and the working-set sweep (the drift plot is
:func:`scripts.paper_drift.plot_drift`)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["plot"]


def plot(out: dict, folder: Path) -> list[Path]:
    """The access CDF with the published point, the capacity / ways / window sweeps and the
    working-set sweep, as PNGs in ``folder``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, axes, name):
        for ax in axes:
            ax.grid(alpha=0.3)
        written.append(folder / name)
        fig.tight_layout()
        fig.savefig(written[-1], dpi=100)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.2))
    cdf = out["calibration"]["access_cdf"]
    ax.plot([float(k) * 100 for k in cdf], list(cdf.values()), label="synthetic generator")
    ax.scatter([6.8], [0.76], color="red", zorder=3, label="Criteo Kaggle: top 6.8% -> 76%")
    ax.set_xscale("log")
    ax.set(xlabel="most accessed rows (% of all rows)", ylabel="share of all accesses",
           title=f"Access CDF (scale {out['scale']:g}, {out['samples']:,} samples)")
    ax.legend()
    save(fig, [ax], "access_cdf.png")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    entries = [int(k) for k in out["capacity"]]
    axes[0].plot(entries, [v["srrip"] for v in out["capacity"].values()], "o-", label="SRRIP EAL")
    axes[0].plot(entries, [v["oracle"] for v in out["capacity"].values()], "s--",
                 label="oracle LFU")
    axes[0].axvline(out["eal_entries"]["paper_scaled"], color="grey", ls=":",
                    label="the paper's 2M entries (scaled)")
    axes[0].set(xscale="log", xlabel="EAL entries", ylabel="popular inputs",
                title="popular inputs vs EAL capacity (4 ways, 5% window)")
    axes[0].legend()
    axes[1].plot([int(k) for k in out["ways"]], list(out["ways"].values()), "o-")
    axes[1].set(xscale="log", xlabel="ways", ylabel="popular inputs (SRRIP)",
                title="vs ways (2M entries scaled, 5% window)")
    axes[2].plot([float(k) * 100 for k in out["window"]], list(out["window"].values()), "o-")
    axes[2].set(xlabel="learning window (% of the mini-batches)", ylabel="popular inputs (SRRIP)",
                title="vs learning window")
    save(fig, axes, "eal_sweeps.png")

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for b, by_w in out["working_set"].items():
        ax.plot([int(w) for w in by_w], list(by_w.values()), "o-", label=f"B = {b[1:]}")
    ax.axhline(out["popular"]["srrip"], color="grey", ls=":", label="popular inputs (SRRIP)")
    ax.set(xlabel="working set W (mini-batches)", ylabel="samples in popular micro-batches",
           title="Re-formed schedule: samples leaving in popular micro-batches")
    ax.legend()
    save(fig, [ax], "working_set.png")
    return written
