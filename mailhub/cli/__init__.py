"""The `mailhub` command: servers, admin and scripting, one parser for all.

Every command turns its arguments into plain values and calls one domain function; what it
raises becomes one line on stderr and an exit code (exits.py), never a traceback. One module per
group of commands: servers, directory, content, privacy, tools.
"""
