"""Engines run partial states over the parts of an input and merge them: ``local`` (threads in
this process) and ``dask`` (a dask.distributed cluster)."""
