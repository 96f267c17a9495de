"""The worker process, the `botbuilder` command line and the embedded development stack."""
