"""spark-submit main file for a whole run: the manifest's jobs (or a `--select`) in one Spark application.

    spark-submit --master spark://host:7077 --py-files dist/lakehouse_py_files.zip jobs/pipeline.py --root DIR
"""

import sys

if __name__ == "__main__":
    from lakehouse_core.submit import PIPELINE, main

    sys.exit(main(PIPELINE))
