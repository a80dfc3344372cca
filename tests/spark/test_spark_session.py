"""Starting or joining a SparkSession, finding the JDBC jar, and one-line errors without PySpark or Java."""

from __future__ import annotations

import sys

import pytest

import timgen_data.spark.session as session
from timgen_data.errors import UsageError
from timgen_data.spark import SparkUnavailableError, find_jdbc_jar, spark_session


def test_a_running_session_is_joined_with_its_runtime_settings(spark):
    joined = spark_session(conf={"spark.sql.shuffle.partitions": "3"})
    assert joined is spark and spark.conf.get("spark.sql.shuffle.partitions") == "3"
    spark.conf.set("spark.sql.shuffle.partitions", "4")
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"


def test_without_pyspark_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(SparkUnavailableError, match=r"pip install 'timgen-data\[spark\]'"):
        spark_session("local[1]")


def test_without_java_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(session, "_java_missing", lambda: True)
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    with pytest.raises(SparkUnavailableError, match="openjdk-17-jre-headless"):
        spark_session("local[1]")


def test_the_jdbc_jar_is_the_one_named_then_the_environments_then_one_on_disk(tmp_path, monkeypatch):
    named, from_env = tmp_path / "named.jar", tmp_path / "env.jar"
    named.touch()
    from_env.touch()
    cache = tmp_path / "m2" / "org" / "postgresql" / "postgresql"
    for version in ("42.7.9", "42.7.13"):
        (cache / version).mkdir(parents=True)
        (cache / version / f"postgresql-{version}.jar").touch()
    monkeypatch.setattr(session, "_DEBIAN_JAR", tmp_path / "absent.jar")
    monkeypatch.setattr(session, "_CACHE_JARS", (str(cache / "*" / "postgresql-*.jar"),))
    monkeypatch.setenv(session.JDBC_JAR_ENV, str(from_env))
    assert find_jdbc_jar(named) == named
    assert find_jdbc_jar() == from_env
    monkeypatch.delenv(session.JDBC_JAR_ENV)
    assert find_jdbc_jar() == cache / "42.7.13" / "postgresql-42.7.13.jar"  # the newest, by version not by text
    monkeypatch.setattr(session, "_CACHE_JARS", ())
    assert find_jdbc_jar() is None
    with pytest.raises(UsageError, match="apt-get install libpostgresql-jdbc-java"):
        find_jdbc_jar(tmp_path / "missing.jar")


def test_the_jvm_logs_through_the_packages_configuration_unless_the_user_has_one(tmp_path, monkeypatch):
    for name in ("SPARK_CONF_DIR", "SPARK_HOME", "SPARK_SUBMIT_OPTS", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"):
        monkeypatch.delenv(name, raising=False)
    assert session.LOG_CONFIG.is_file()
    settings = {"spark.driver.extraJavaOptions": "-Xss4m"}
    session._quiet_logging(settings)
    assert settings["spark.driver.extraJavaOptions"] == f"-Xss4m -Dlog4j2.configurationFile={session.LOG_CONFIG.as_uri()}"
    own = {"spark.driver.extraJavaOptions": "-Dlog4j2.configurationFile=mine.properties"}
    session._quiet_logging(own)
    assert own == {"spark.driver.extraJavaOptions": "-Dlog4j2.configurationFile=mine.properties"}
    (tmp_path / "log4j2.properties").write_text("rootLogger.level = info\n")
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    settings = {}
    session._quiet_logging(settings)
    assert settings == {}
