"""Plotting (matplotlib only; nothing in the core imports this). Functions take data and an
optional ``ax`` and return the Axes."""
