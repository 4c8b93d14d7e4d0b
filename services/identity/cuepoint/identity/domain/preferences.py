"""A user's preferences: the typed document stored in ``user_preferences.preferences``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LanguageTag = str


class NotificationPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email_new_lesson: bool = Field(default=True, description="Email when a teacher publishes a lesson.")
    email_grades: bool = Field(default=True, description="Email when an answer is graded by a teacher.")
    email_weekly_summary: bool = Field(default=False, description="A weekly progress summary.")
    in_app: bool = Field(default=True, description="Notifications inside the app.")


class LearningPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    autoplay_next: bool = Field(default=True, description="Start the next video when one ends.")
    show_hints: bool = Field(default=True, description="Offer hints on questions that have them.")
    daily_goal_minutes: int = Field(default=20, ge=0, le=600, description="Minutes of learning aimed at per day.")
    reminders: bool = Field(default=False, description="Remind when the daily goal is not met.")


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    playback_speed: float = Field(default=1.0, ge=0.25, le=3.0, multiple_of=0.05, description="Default speed.")
    captions_enabled: bool = Field(default=False, description="Show captions by default.")
    captions_language: LanguageTag = Field(default="en", pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
    interface_language: LanguageTag = Field(default="en", pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
    theme: Literal["system", "light", "dark", "high-contrast"] = "system"
    notifications: NotificationPreferences = Field(default_factory=NotificationPreferences)
    learning: LearningPreferences = Field(default_factory=LearningPreferences)


def merge(current: Preferences, patch: dict) -> Preferences:
    """Applies a partial document (nested objects merge); raises ``pydantic.ValidationError``."""
    merged = current.model_dump()
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return Preferences.model_validate(merged)
