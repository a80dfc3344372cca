"""Starting (or joining) a SparkSession for the Spark engine.

The master comes from, in order: the ``master`` argument (``--spark-master``), a session
already running in this process (a notebook, Databricks, a test), ``spark-submit`` (which
starts the JVM before our code and hands it its own ``--master``), the ``SPARK_MASTER``
environment variable, and finally ``local[*]``: every core of this machine.

Reading a PostgreSQL store through JDBC needs the PostgreSQL JDBC driver on the session's
class path, given when the session starts. No jar is downloaded (``spark.jars.packages``
needs Maven Central): it is looked for on disk, see :func:`find_jdbc_jar`.

A JVM started here logs errors only (``log4j2.properties`` beside this module), unless the
user configures Spark's logging themselves: Spark's default logs WARN lines before
``setLogLevel`` can run, and a command would print them among its own output.
"""

from __future__ import annotations

import glob
import os
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from timgen_data.errors import UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_HINT = "pip install 'timgen-data[spark]'"
JDBC_JAR_ENV = "TIMGEN_JDBC_JAR"
# Debian's libpostgresql-jdbc-java, then a jar Maven or Ivy left in the user's cache.
_DEBIAN_JAR = Path("/usr/share/java/postgresql.jar")
_CACHE_JARS = ("~/.m2/repository/org/postgresql/postgresql/*/postgresql-*.jar",
               "~/.ivy2/jars/org.postgresql_postgresql-*.jar", "~/.ivy2.5.2/jars/org.postgresql_postgresql-*.jar")
JDBC_HINT = (f"apt-get install libpostgresql-jdbc-java, or give the jar with --jdbc-jar or {JDBC_JAR_ENV} "
             "(https://jdbc.postgresql.org/download/)")
# Small shuffles by default: the engine's shuffles are per user, and Spark's default of
# 200 partitions makes a local run spend its time scheduling empty tasks. A cluster sets its own.
_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
_LOCAL_DEFAULTS = {"spark.sql.shuffle.partitions": "8", "spark.ui.showConsoleProgress": "false"}
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
_JAVA_OPTIONS = "spark.driver.extraJavaOptions"


class SparkUnavailableError(UsageError):
    """PySpark or Java is missing, or Spark would not start; the message says how to fix it."""


def find_jdbc_jar(explicit: str | Path | None = None) -> Path | None:
    """The PostgreSQL JDBC driver jar to put on the session's class path, or None if none is found.

    Looks at ``explicit`` (``--jdbc-jar``), then ``$TIMGEN_JDBC_JAR``, then Debian's
    ``/usr/share/java/postgresql.jar``, then the newest in the Maven/Ivy caches. A jar named
    explicitly but missing is an error rather than a silent fallback.
    """
    for named, origin in ((explicit, "--jdbc-jar"), (os.environ.get(JDBC_JAR_ENV) or None, JDBC_JAR_ENV)):
        if named:
            path = Path(named).expanduser()
            if not path.is_file():
                raise UsageError(f"{origin}: no JDBC jar at {path}; {JDBC_HINT}")
            return path
    if _DEBIAN_JAR.is_file():
        return _DEBIAN_JAR
    found = sorted((Path(p) for pattern in _CACHE_JARS for p in glob.glob(os.path.expanduser(pattern))),
                   key=lambda p: _version_key(p.name))
    return found[-1] if found else None


def _version_key(name: str) -> tuple:
    digits = "".join(c if c.isdigit() else " " for c in name).split()
    return tuple(int(d) for d in digits)


def _java_missing() -> bool:
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return False
    return shutil.which("java") is None


def spark_session(master: str | None = None, *, conf: Mapping[str, str] | None = None,
                  jdbc_jar: str | Path | None = None) -> SparkSession:
    """The SparkSession to run on: an active one is reused, else one is started.

    ``conf`` adds Spark settings (``spark.executor.memory`` …); settings that shape the JVM
    (memory, jars) only take effect when this call starts it. ``jdbc_jar`` (else the first
    jar :func:`find_jdbc_jar` finds) goes on the class path of a session started here.

    >>> spark = spark_session("local[2]", conf={"spark.ui.enabled": "false"})  # doctest: +SKIP
    """
    # PySpark warns on every pandas it has not been tested with (pandas 3), at each first use
    # of pandas: output the user can do nothing about, in the middle of a command's own.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(f"the Spark engine needs PySpark, which is not installed: {INSTALL_HINT}") from None
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return _with_runtime_conf(active, conf)
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit (or pyspark) started the JVM for us
    if not submitted and _java_missing():
        raise SparkUnavailableError(
            "the Spark engine needs Java 17 or newer, which is not installed: apt-get install openjdk-17-jre-headless "
            "(or set JAVA_HOME)")
    builder = SparkSession.builder.appName("timgen-data")
    chosen = master or (None if submitted else os.environ.get("SPARK_MASTER") or "local[*]")
    if chosen is not None:
        builder = builder.master(chosen)
    settings = dict(_DEFAULTS)
    if chosen is not None and chosen.startswith("local"):
        settings.update(_LOCAL_DEFAULTS)
    jar = find_jdbc_jar(jdbc_jar)
    settings.update(conf or {})
    if not submitted:
        _quiet_logging(settings)
    if jar is not None:
        settings["spark.jars"] = ",".join(filter(None, [settings.get("spark.jars"), str(jar)]))
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as error:  # PySparkRuntimeError and friends: the JVM would not start
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SparkUnavailableError(f"Spark would not start ({first}); check Java and the Spark settings") from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def _quiet_logging(settings: dict[str, str]) -> None:
    """Start the driver's JVM with :data:`LOG_CONFIG`, unless the user set up Spark's logging or
    its driver's Java options elsewhere (our setting would replace theirs)."""
    own = settings.get(_JAVA_OPTIONS, "")
    if "log4j" in own or _configured_outside():
        return
    # As a URI: a path with spaces would be split into several options.
    settings[_JAVA_OPTIONS] = f"{own} -Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}".strip()


def _configured_outside() -> bool:
    """Whether Spark's configuration folder has a log4j2 file or sets the driver's Java options,
    or the JVM's options from the environment name a log4j configuration."""
    if any("log4j" in os.environ.get(name, "") for name in ("SPARK_SUBMIT_OPTS", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS")):
        return True
    home = os.environ.get("SPARK_HOME")
    folder = os.environ.get("SPARK_CONF_DIR") or (str(Path(home, "conf")) if home else None)
    if not folder:
        return False
    if any(Path(folder).glob("log4j2*")):
        return True
    defaults = Path(folder, "spark-defaults.conf")
    try:
        return _JAVA_OPTIONS in defaults.read_text(errors="replace")
    except OSError:
        return False


def _with_runtime_conf(session: SparkSession, conf: Mapping[str, str] | None) -> SparkSession:
    """Apply the settings that may change while a session runs (SQL ones); others are the session's own."""
    for key, value in (conf or {}).items():
        try:
            session.conf.set(key, value)
        except Exception:  # a static setting (memory, jars): fixed when that session started
            pass
    return session
