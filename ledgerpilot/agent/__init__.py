"""The LangGraph agent that drafts posting schemes, and its posting backends."""
