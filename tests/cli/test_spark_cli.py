"""``--engine spark`` on ``label`` and ``build``: wired to the Spark engines, and one-line errors without Spark."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from support.event_logs import add_events, event_log
from support.spark import spark_or_skip

from timgen_data.cli import cli
from timgen_data.store import Store, fetch_rows

WEIGHTS_TOML = "[video]\nsession_gap = 300\nlambda1 = 1.3\n"


@pytest.fixture(scope="module")
def spark():
    return spark_or_skip()


@pytest.fixture
def data(tmp_path):
    """A data dir whose store holds generated logs of every action."""
    folder = tmp_path / "data"
    folder.mkdir()
    store = Store.open(f"sqlite:///{folder / 'timgen.sqlite'}")
    add_events(store, event_log(range(10), seed=11))
    store.dispose()
    return folder


def run(data, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "--db", f"sqlite:///{data / 'timgen.sqlite'}", *args])
    assert result.exit_code == code, result.output
    return result.output


def labels(data, scenario: str) -> dict:
    store = Store.open(f"sqlite:///{data / 'timgen.sqlite'}")
    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT interaction_id, score, class FROM labels WHERE scenario = :s", {"s": scenario})
        conn.exec_driver_sql("DELETE FROM labels")
        conn.exec_driver_sql("DELETE FROM collection_state WHERE collector = 'label'")
    store.dispose()
    return {i: (s, c) for i, s, c in rows}


def test_label_with_the_spark_engine_stores_the_local_engines_labels(data, spark, tmp_path):
    weights = tmp_path / "weights.toml"
    weights.write_text(WEIGHTS_TOML)
    run(data, "label", "--scenario", "video", "--weights", str(weights))
    local = labels(data, "video")
    out = run(data, "label", "--scenario", "video", "--weights", str(weights), "--engine", "spark",
              "--spark-conf", "spark.sql.shuffle.partitions=3")
    assert "labels written" in out and labels(data, "video") == local
    assert list((data / "spark-work").iterdir()) == []  # its scratch files are gone
    assert spark.sparkContext._jsc is not None  # a session that was running stays running


def test_build_with_the_spark_engine_writes_the_local_engines_rows(data, spark, tmp_path):
    run(data, "label", "--scenario", "ecommerce")
    run(data, "build", str(tmp_path / "local"), "--scenario", "ecommerce")
    run(data, "build", str(tmp_path / "spark"), "--scenario", "ecommerce", "--engine", "spark",
        "--spark-workdir", str(tmp_path / "scratch"))
    rows = [pq.read_table(tmp_path / name / "interactions").sort_by("user_id").to_pylist() for name in ("local", "spark")]
    assert repr(rows[0]) == repr(rows[1]) and rows[0]  # repr: NaN (a click has no value) equals NaN


@pytest.mark.parametrize("args, said", [
    (["--spark-master", "local[1]"], "--spark-master applies only with --engine spark"),
    (["--spark-conf", "a=b", "--spark-workdir", "x"], "--spark-conf, --spark-workdir apply only with --engine spark"),
    (["--engine", "spark", "--spark-conf", "novalue"], "give KEY=VALUE"),
])
def test_spark_options_are_checked_before_any_work(data, args, said):
    out = run(data, "label", *args, code=2)
    assert said in out and len(out.strip().splitlines()) == 1


def spark_cli(data, *args: str, env: dict | None = None, hide_pyspark: bool = False) -> subprocess.CompletedProcess:
    """The CLI in a process of its own (no SparkSession of the tests in it), optionally without PySpark."""
    hide = "import sys; sys.modules['pyspark'] = None; " if hide_pyspark else "import sys; "
    code = hide + "from timgen_data.cli import main; sys.argv = ['timgen-data'] + sys.argv[1:]; main()"
    return subprocess.run([sys.executable, "-c", code, "--data-dir", str(data),
                           "--db", f"sqlite:///{data / 'timgen.sqlite'}", *args],
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("command", [["label"], ["build", "out"]])
def test_the_spark_engine_without_pyspark_says_how_to_install_it(data, command):
    done = spark_cli(data, *command, "--engine", "spark", hide_pyspark=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Error: the Spark engine needs PySpark, which is not installed: pip install 'timgen-data[spark]' "
        "[SparkUnavailableError]"]


def test_the_spark_engine_without_java_says_how_to_install_it(data, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "PYSPARK_GATEWAY_PORT")}
    env["PATH"] = str(tmp_path)  # no java anywhere on it
    done = spark_cli(data, "label", "--engine", "spark", env=env)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "needs Java 17" in line and "apt-get install openjdk-17-jre-headless" in line


def test_a_spark_command_prints_no_spark_warnings(data, spark):
    """The JVM starts with the package's log4j2 configuration: no WARN line of Spark's (NativeCodeLoader,
    the default log level) among the command's output."""
    unset = ("PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET", "SPARK_CONF_DIR", "SPARK_HOME", "SPARK_SUBMIT_OPTS",
             "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    done = spark_cli(data, "label", "--scenario", "video", "--engine", "spark", "--spark-master", "local[1]",
                     "--spark-conf", "spark.ui.enabled=false", env=env)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if re.search(r"\bWARN\b|Warning:", line)] == []
