"""Notes kept in Latin-1 by an old editor: café, crème brûlée, £ prices."""


def menu_item(name: str) -> str:
    return name + " (café)"
