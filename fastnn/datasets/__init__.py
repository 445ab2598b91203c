"""The data sets fastnn's jobs train on: :mod:`fastnn.datasets.mnist` (the IDX files; the
10,000-image test set ships in ``files/mnist``) and :mod:`fastnn.datasets.movielens`
(MovieLens 100K ratings).  ``fastnn.data`` and ``fastnn.movielens``, their old names,
are the same modules."""
