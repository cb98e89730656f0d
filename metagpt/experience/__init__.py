"""The experience pool: confirmed steps and lessons of earlier runs, reused or shown as examples.

Off by default (`EXP_POOL_ENABLED`). See `session` for how roles use it and `pool` for storage.
"""

from metagpt.experience.pool import ExperiencePool
from metagpt.experience.records import EXAMPLES_MARKER, Cost, Experience, model_family, step_key
from metagpt.experience.session import ExperienceSession

__all__ = ["EXAMPLES_MARKER", "Cost", "Experience", "ExperiencePool", "ExperienceSession", "model_family", "step_key"]
