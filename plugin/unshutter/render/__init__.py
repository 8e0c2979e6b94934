"""The render loop of :func:`unshutter.pipeline.run`, in the parts it is made of.

- :mod:`.numbering`  which output frames each source frame makes, which frames are decomposed (computed once)
- :mod:`.target`     where the outputs go (sequence or movie) and what a run may not write over
- :mod:`.source`     read -> scene-linear frames -> the node: the "read and process" stage
- :mod:`.resume`     signatures that decide whether an existing output is complete and current
- :mod:`.sink`       sub-frames -> files (sequence frames in writer threads, or one movie), progress events
- :mod:`.manifest`   the run's ``<name>.unshutter.json``
- :mod:`.loop`       the short read -> process -> write loop over the above
"""
