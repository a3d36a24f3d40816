"""fieldrig.neural: the trained fields (skinning weights, barycentric coordinates) in torch."""
