"""The load-balancer probe behind ``/probe_status``: where its text is
stored, who may change it, and the drain before shutdown.

The view and 1.0's in-process store are in :mod:`lovely.ws.status.probestatus`.
"""
