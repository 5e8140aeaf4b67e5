"""Coastline change (pure computation): shorelines, transects, tide correction, DSAS statistics,
land gained and lost. I/O lives in the product module (``rs.products.coastline``) and the CLI."""
