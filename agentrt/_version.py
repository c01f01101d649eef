"""agentrt's version: the one place it is written.

The build reads it from here (hatch's dynamic version, ``[tool.hatch.version]`` in
``pyproject.toml``) and ``agentrt.__version__`` re-exports it. This module imports
nothing, so reading the version costs nothing.
"""

__version__ = "0.1.0"
