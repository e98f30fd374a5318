"""Test helper: a maze as an independent networkx graph (nodes are (row, col) tuples)."""

import networkx as nx
import numpy as np


def to_graph(conn: np.ndarray) -> nx.Graph:
    """Every lattice cell as a node, every open connection as an edge (read from the raw array)."""
    _, rows, cols = conn.shape
    g = nx.Graph()
    g.add_nodes_from((r, c) for r in range(rows) for c in range(cols))
    g.add_edges_from(((r, c), (r + 1, c)) for r, c in zip(*np.nonzero(conn[0]), strict=True))
    g.add_edges_from(((r, c), (r, c + 1)) for r, c in zip(*np.nonzero(conn[1]), strict=True))
    return nx.relabel_nodes(g, lambda x: (int(x[0]), int(x[1])))
