"""Model families, one module per seed paper, built from ``workbench.nn``."""
