"""Published names that other modules default to. A published task set, panel, prompt or policy
never changes; a change is a new version, and tests pin the old ones."""

DEFAULT_TASK_SET = "negotiation-v1"
PANEL_VERSION = "panel-v2"  # the panel runs play by default; members in players.PANELS
