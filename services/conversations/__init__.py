"""Conversations: inbox reads, which flow answers, delivery statuses, outreaches, live notices."""
