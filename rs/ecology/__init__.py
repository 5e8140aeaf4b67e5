"""Ecological indicators (pure computation): RSEI, EQI, zonal statistics, trends."""
