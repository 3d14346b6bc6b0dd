"""Plot throughput and memory against the number of workers."""

import matplotlib

matplotlib.use("Agg")

# pyplot picks its backend on import, so it comes after matplotlib.use().
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator


def _series(rows, value_key):
    series = {}
    for row in rows:
        series.setdefault(row["design"], []).append((row["workers"], row[value_key]))
    return {design: sorted(points) for design, points in series.items()}


def plot(report, path):
    """Write a PNG with one panel for throughput and one for memory."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    panels = (
        (left, "throughput", "deployments_per_second", "CPU-bound deployments / s"),
        (right, "memory", "total_pss_mb", "total Pss of engine processes (MiB)"),
    )
    for axes, key, value_key, label in panels:
        for design, points in _series(report.get(key, []), value_key).items():
            workers = [p[0] for p in points]
            axes.plot(workers, [p[1] for p in points], marker="o", label=design)
        axes.set_xlabel("workers")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(label)
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        axes.legend()
    machine = report["machine"]
    figure.suptitle(
        f"{report['mode']} run, {report['started_at'][:10]}, "
        f"{machine['nproc']} CPUs, load at start "
        f"{machine['load_average_start'][0]}"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
