"""Cuepoint content service: Lessons, chapters, videos on object storage, milestones and transcripts."""
