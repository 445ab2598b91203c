"""Synthetic ratings in MovieLens 100K's file format, with planted low-rank structure:
what the recommender tests train on (there is no copy of MovieLens here)."""
import os

import numpy as np


def planted_ratings(users=943, movies=1682, per_user=106, rank=3, seed=0):
    """(train, test) ratings matrices (users, movies), 1-5 and 0 = unrated, about
    ``per_user`` ratings a user (popular movies rated more), 20 % of each user's held out.
    A rating is round(3.2 + movie bias + <user, movie factors> + noise), clipped to 1-5."""
    rng = np.random.default_rng(seed)
    user_factors = rng.standard_normal((users, rank))
    movie_factors = rng.standard_normal((movies, rank))
    score = (3.2 + rng.normal(0, 0.5, movies) + 0.9 * user_factors @ movie_factors.T
             + rng.normal(0, 0.3, (users, movies)))
    ratings = np.clip(np.rint(score), 1, 5)
    popularity = rng.pareto(1.0, movies) + 1
    popularity /= popularity.sum()
    train, test = np.zeros((users, movies)), np.zeros((users, movies))
    for u in range(users):
        count = min(max(20, rng.poisson(per_user)), movies)
        items = rng.choice(movies, size=count, replace=False, p=popularity)
        held = items[:count // 5]
        train[u, items[count // 5:]] = ratings[u, items[count // 5:]]
        test[u, held] = ratings[u, held]
    return train, test


def write_ratings(path, ratings, seed=0):
    """Lines 'user<TAB>item<TAB>rating<TAB>timestamp' for the nonzero entries."""
    users, items = np.nonzero(ratings)
    stamps = np.random.default_rng(seed).integers(874724710, 893286638, len(users))
    with open(path, "w", encoding="latin-1") as f:
        for u, i, t in zip(users, items, stamps):
            f.write(f"{u + 1}\t{i + 1}\t{int(ratings[u, i])}\t{t}\n")


def write_movielens(directory, train, test, split="u1", titles=True):
    """The files of one split (u.info, u.data, <split>.base, <split>.test, u.item)."""
    os.makedirs(directory, exist_ok=True)
    users, movies = train.shape
    with open(os.path.join(directory, "u.info"), "w") as f:
        f.write(f"{users} users\n{movies} items\n{int((train > 0).sum() + (test > 0).sum())} ratings\n")
    write_ratings(os.path.join(directory, f"{split}.base"), train)
    write_ratings(os.path.join(directory, f"{split}.test"), test, seed=1)
    write_ratings(os.path.join(directory, "u.data"), np.where(train > 0, train, test), seed=2)
    if titles:
        with open(os.path.join(directory, "u.item"), "w", encoding="latin-1") as f:
            for i in range(1, movies + 1):
                f.write(f"{i}|Film {i} ({'Amélie' if i == 1 else 'x'}) (1995)|01-Jan-1995||"
                        f"http://example|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n")
    return directory
