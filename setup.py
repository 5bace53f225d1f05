"""A pure-Python wheel with the `lakehouse` console script; the cluster brings its own Spark.

`pip install .` installs what every runtime needs. `pip install .[local]` adds the exact, tested Spark,
Delta and MLflow for the embedded local default (Synapse and Databricks ship their own).
"""

from setuptools import find_packages, setup

LOCAL = [
    # The Azure Synapse Spark 3.5 line. delta-spark and pyspark break each other at patch level:
    # these pairs are the ones the test suite runs on (constraints.txt pins everything else).
    "pyspark==3.5.5",
    "delta-spark==3.3.2",
    "mlflow==2.22.1",
    "pandas==2.2.3",  # PySpark 3.5 does not support pandas 3
    "pyarrow==19.0.1",
]

setup(
    name="customer-lakehouse",
    version="0.1.0",
    description="Customer-data lakehouse: bronze/silver/gold Delta tables, MLlib models, pipeline runner.",
    python_requires=">=3.10",
    packages=find_packages(include=["lakehouse_core", "lakehouse_core.*", "lakedb", "lakedb.*",
                                    "jobs", "jobs.*", "ml", "ml.*"]) + ["lakehouse_core.conf"],
    package_dir={"lakehouse_core.conf": "conf"},
    package_data={"lakehouse_core.conf": ["*.yml"], "lakehouse_core": ["resources/*"]},
    install_requires=["PyYAML>=6.0", "openpyxl>=3.1", "numpy>=1.24"],
    extras_require={
        "local": LOCAL,
        "test": ["pytest==8.3.5", "chispa==0.11.1", "ruff==0.15.12"],
    },
    entry_points={"console_scripts": ["lakehouse=lakehouse_core.cli:main"]},
)
