"""The ``fastdl`` command-line application: ``train``, ``evaluate``, ``compare`` and ``search``.

Built on the library (:mod:`fastdl.layers`, :mod:`fastdl.networks`, ...),
which never imports this package. :mod:`fastdl.app.cli` is the entry point;
each command has its module (:mod:`.train`, :mod:`.evaluate`, :mod:`.search`,
and one per experiment in :mod:`.compare`), with its defaults next to its code.
"""
