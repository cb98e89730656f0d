"""The parts of `RoleZero`, the autonomous agent: commands, plan, tools, memory, stuck detection, trace."""
