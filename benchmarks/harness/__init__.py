"""What the benchmark scripts share: machine provenance, result files, data and peers.

Scripts run as ``python benchmarks/NAME.py``, so this folder is on ``sys.path`` and they write
``from harness import ...``. Nothing here imports automl_nas or torch at load time: the
peers' interpreter (no automl_nas) loads it too.
"""

from harness._data import (
    DATA_ENV,
    META_TABLES,
    TABLES,
    TUNING_TABLES,
    Table,
    add_data_option,
    data_dir,
    holdout_split,
    load_table,
    meta_tables_by_rule,
    pmlb_task,
)
from harness._machine import (
    Machine,
    children_cpu_s,
    command,
    cpu_model,
    load1,
    machine,
    peak_rss_of,
    row_in_own_process,
    snapshot,
    versions,
)
from harness._peers import PEERS, Peer, Task, ensure_peers_venv, run_peer
from harness._results import RESULTS, markdown_table, result_path, write_csv, write_json, write_text

__all__ = [  # noqa: RUF022 - grouped by concern, as the imports
    "DATA_ENV", "META_TABLES", "TABLES", "TUNING_TABLES", "Table", "add_data_option", "data_dir",
    "holdout_split", "load_table", "meta_tables_by_rule", "pmlb_task",
    "Machine", "children_cpu_s", "command", "cpu_model", "load1", "machine", "peak_rss_of",
    "row_in_own_process", "snapshot", "versions",
    "PEERS", "Peer", "Task", "ensure_peers_venv", "run_peer",
    "RESULTS", "markdown_table", "result_path", "write_csv", "write_json", "write_text",
]
