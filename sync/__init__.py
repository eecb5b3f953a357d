"""Clocks and markers: the ZeroMQ marker bus and clock-offset estimation between hosts."""
