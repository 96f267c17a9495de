"""The Temporal worker process: the workflows and activities it runs, and their sandbox."""
