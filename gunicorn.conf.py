"""gunicorn's settings for Latchkey, read by ``gunicorn app:app`` run from this folder.

JSON-line logs without gunicorn's access log (it would write query strings and the Basic
user), and the metrics folder every worker shares; :mod:`oauth_server.serve` says why.
Options given on the command line (workers, threads, bind) still apply.
"""

from oauth_server.serve import JsonLogger, child_exit, prepare_metrics_dir

# Here, while the configuration is read: before any worker exists, and before the app is
# imported even under --preload.
prepare_metrics_dir()

logger_class = JsonLogger
child_exit = child_exit
