"""Evaluation of the configured models on data sets: ``python -m mmdemo eval TASK [DATASET]``.

``datasets`` reads ImageFolder/AudioFolder-style folders and builds the built-in sets, ``runner`` sends each
item through the app's own backend functions, ``metrics`` scores them, ``report`` prints and writes the results.
"""
