"""The product catalogue: a 3-level category tree, house brands, prices and nightly changes."""

from __future__ import annotations

import numpy as np

from kalido.contract import SOURCES as CONTRACT
from kalido.tools.generate.clock import iso_z
from kalido.tools.generate.traffic import PRODUCTS_PER_LEAF, weighted

SITE = "https://www.kalido.fr"
# The generator writes exactly the columns the ingest reads.
PRODUCT_COLUMNS = CONTRACT["products"].columns

# Category tree: top → mid → product nouns (singular). A leaf is named by the noun's plural,
# given after "|" where the simple rule in _plural would get it wrong.
TAXONOMY: dict[str, dict[str, tuple[str, ...]]] = {
    "Maison": {
        "Cuisine": ("Cafetière", "Poêle", "Casserole", "Bouilloire"),
        "Linge de maison": (
            "Drap housse|Draps housses",
            "Housse de couette",
            "Serviette de bain",
            "Plaid",
        ),
        "Décoration": ("Vase", "Bougie parfumée|Bougies parfumées", "Cadre photo", "Miroir"),
        "Rangement": ("Boîte de rangement", "Étagère murale|Étagères murales", "Panier en osier"),
        "Luminaires": ("Lampe de chevet", "Suspension", "Lampadaire"),
    },
    "Électroménager": {
        "Petit-déjeuner": (
            "Grille-pain",
            "Machine à expresso",
            "Presse-agrumes",
            "Bouilloire électrique|Bouilloires électriques",
        ),
        "Préparation culinaire": (
            "Robot pâtissier|Robots pâtissiers",
            "Blender",
            "Mixeur plongeant|Mixeurs plongeants",
            "Balance de cuisine",
        ),
        "Entretien des sols": (
            "Aspirateur balai|Aspirateurs balais",
            "Aspirateur robot|Aspirateurs robots",
            "Nettoyeur vapeur",
        ),
        "Soin du linge": ("Fer à repasser", "Centrale vapeur", "Défroisseur"),
        "Climatisation": (
            "Ventilateur",
            "Radiateur d'appoint",
            "Purificateur d'air",
            "Déshumidificateur",
        ),
    },
    "High-Tech": {
        "Audio": (
            "Casque audio",
            "Écouteurs sans fil",
            "Enceinte Bluetooth",
            "Barre de son",
        ),
        "Téléphonie": (
            "Smartphone",
            "Coque de téléphone",
            "Chargeur rapide|Chargeurs rapides",
            "Batterie externe|Batteries externes",
        ),
        "Informatique": (
            "Ordinateur portable|Ordinateurs portables",
            "Souris sans fil",
            "Clavier",
            "Écran",
        ),
        "Photo": ("Appareil photo", "Objectif", "Trépied"),
        "Maison connectée": (
            "Ampoule connectée|Ampoules connectées",
            "Caméra de surveillance",
            "Prise connectée|Prises connectées",
        ),
    },
    "Mode": {
        "Femme": ("Robe", "Chemisier", "Jean", "Pull"),
        "Homme": ("Chemise", "Polo", "Veste", "Pantalon chino|Pantalons chinos"),
        "Chaussures": ("Basket", "Bottine", "Sandale", "Mocassin"),
        "Accessoires": ("Sac à main", "Ceinture", "Écharpe", "Montre"),
        "Enfant": ("Pyjama", "Body bébé|Bodys bébé", "Doudoune", "Legging"),
    },
    "Beauté": {
        "Soins du visage": (
            "Crème hydratante|Crèmes hydratantes",
            "Sérum",
            "Nettoyant visage",
            "Masque visage",
        ),
        "Maquillage": ("Rouge à lèvres", "Mascara", "Fond de teint", "Palette de fards"),
        "Parfums": ("Eau de parfum", "Eau de toilette", "Coffret parfum"),
        "Cheveux": ("Shampoing", "Après-shampoing", "Sèche-cheveux", "Lisseur"),
        "Corps": ("Gel douche", "Lait corporel|Laits corporels", "Déodorant"),
    },
    "Sport": {
        "Running": (
            "Chaussure de running",
            "Montre GPS",
            "Gourde",
            "Brassière de sport",
        ),
        "Vélo": (
            "Casque vélo",
            "Antivol",
            "Éclairage vélo",
            "Vélo électrique|Vélos électriques",
        ),
        "Fitness": (
            "Tapis de yoga",
            "Haltère",
            "Élastique de musculation",
            "Banc de musculation",
        ),
        "Randonnée": ("Sac à dos", "Tente", "Sac de couchage", "Bâton de marche"),
        "Sports collectifs": ("Ballon de football", "Maillot", "Protège-tibia"),
    },
    "Jardin": {
        "Outillage": ("Sécateur", "Tondeuse", "Taille-haie", "Débroussailleuse"),
        "Mobilier de jardin": ("Salon de jardin", "Parasol", "Transat", "Hamac"),
        "Plantes": ("Plante d'intérieur", "Pot de fleurs", "Terreau"),
        "Barbecue": ("Barbecue", "Plancha", "Housse de barbecue"),
        "Arrosage": ("Tuyau d'arrosage", "Arrosoir", "Programmateur d'arrosage"),
    },
    "Jeux & Loisirs": {
        "Jouets": (
            "Peluche",
            "Jeu de construction",
            "Poupée",
            "Voiture miniature|Voitures miniatures",
        ),
        "Jeux de société": ("Jeu de plateau", "Puzzle", "Jeu de cartes"),
        "Livres": (
            "Roman",
            "Album jeunesse|Albums jeunesse",
            "Livre de cuisine",
            "Guide de voyage",
        ),
        "Loisirs créatifs": ("Kit de peinture", "Feutre", "Carnet de croquis"),
        "Musique": ("Guitare", "Ukulélé", "Piano numérique|Pianos numériques", "Micro"),
    },
}
# Five house brands per top category, in TAXONOMY order.
BRANDS = (
    ("Maison Lumière", "Atelier Verdon", "Cocon & Co", "Linéa", "Kalido Home"),
    ("Vaillard", "Électra", "Cuisinor", "Thermis", "Kalido Essentiel"),
    ("Novatek", "Sonéo", "Pixalis", "Voltéo", "Kalido Tech"),
    ("Belle Allure", "Jules & Léa", "Maison Garance", "Ocre", "Kalido Mode"),
    ("Fleur de Sel", "Éclat Paris", "Botania", "Céleste", "Kalido Beauté"),
    ("Altitude", "Vélocité", "Gravel & Co", "Azur Sport", "Kalido Sport"),
    ("Verdure", "Jardinier Malin", "Terra", "Bois Doré", "Kalido Jardin"),
    ("Ludika", "Petit Génie", "Crayonnade", "Mélodia", "Kalido Kids"),
)
QUALIFIERS = (
    "Classique",
    "Essentiel",
    "Premium",
    "Confort",
    "Compact",
    "Pro",
    "Évolution",
    "Signature",
    "Nature",
    "Urban",
    "Élégance",
    "Original",
    "Duo",
    "Mini",
    "Max",
)
COLOURS = (
    "noir",
    "blanc",
    "gris anthracite",
    "bleu nuit",
    "rouge",
    "vert sauge",
    "beige",
    "rose poudré",
    "terracotta",
    "jaune moutarde",
)


def _plural(noun: str) -> str:
    """French plural of a product noun: explicit after '|', else by its first word."""
    if "|" in noun:
        return noun.split("|", 1)[1]
    first, _, rest = noun.partition(" ")
    if first.endswith(("s", "x", "z")):
        plural = first
    elif first.endswith(("au", "eu")):
        plural = first + "x"
    elif first.endswith("al"):
        plural = first[:-2] + "aux"
    else:
        plural = first + "s"
    return f"{plural} {rest}" if rest else plural


def _leaves_in_order() -> list[tuple[int, str, str]]:
    """Every leaf as (top index, category path, noun), ordered so any prefix spans many branches."""
    mids = [
        (rank, top_index, top, mid, nouns)
        for top_index, (top, subs) in enumerate(TAXONOMY.items())
        for rank, (mid, nouns) in enumerate(subs.items())
    ]
    mids.sort(key=lambda m: (m[0], m[1]))  # first mid of every top, then the second ones, ...
    deepest = max(len(m[4]) for m in mids)
    return [
        (top_index, f"{top} > {mid} > {_plural(nouns[i])}", nouns[i].split("|")[0])
        for i in range(deepest)
        for _, top_index, top, mid, nouns in mids
        if i < len(nouns)
    ]


def _price_cents(prices: np.ndarray) -> np.ndarray:
    """Shop-like prices in cents (ending in .99, .90 or .00), at least 1.99."""
    endings = np.array([99, 90, 0])[np.arange(len(prices)) % 3]
    return np.maximum(np.floor(prices).astype(np.int64) * 100 + endings, 199)


class Catalogue:
    """Products in a 3-level category tree, with Zipf-like popularity inside each leaf."""

    def __init__(self, rng: np.random.Generator, n_products: int, first_midnight: int):
        self.rng = rng
        leaves = _leaves_in_order()
        n_leaves = int(np.clip(round(n_products / PRODUCTS_PER_LEAF), 1, len(leaves)))
        leaves = leaves[:n_leaves]
        self.leaf_paths = [path for _, path, _ in leaves]
        self.leaf_nouns = [noun for _, _, noun in leaves]
        # Every leaf gets a product; the rest are spread unevenly, like real assortments.
        shares = rng.gamma(2.0, size=n_leaves)
        self.leaf_size = rng.multinomial(n_products - n_leaves, shares / shares.sum()) + 1
        self.leaf_start = np.concatenate([[0], np.cumsum(self.leaf_size)[:-1]])
        self.leaf_cdf = np.cumsum(self.leaf_size.astype(np.float64))
        # Slot leaf_start[l] + r holds the r-th most popular product of leaf l. Product numbers are
        # shuffled so that ids say nothing about category or popularity.
        self.by_popularity = rng.permutation(n_products)
        self.leaf = np.empty(n_products, np.int64)
        self.leaf[self.by_popularity] = np.repeat(np.arange(n_leaves), self.leaf_size)

        width = max(6, len(str(n_products)))
        self.ids = [f"P{i + 1:0{width}d}" for i in range(n_products)]
        self.urls = [f"{SITE}/p/{pid}" for pid in self.ids]
        top_of_leaf = np.array([top for top, _, _ in leaves])
        brand_pick = rng.integers(0, 5, n_products)
        no_brand = rng.random(n_products) < 0.06
        qualifier = rng.integers(0, len(QUALIFIERS), n_products)
        colour = rng.integers(-len(COLOURS) // 2, len(COLOURS), n_products)  # < 0: no colour
        self.brands, self.titles = [], []
        for p in range(n_products):
            brand = "" if no_brand[p] else BRANDS[top_of_leaf[self.leaf[p]]][brand_pick[p]]
            words = [self.leaf_nouns[self.leaf[p]], brand, QUALIFIERS[qualifier[p]]]
            if colour[p] >= 0:
                words.append(COLOURS[colour[p]])
            self.brands.append(brand)
            self.titles.append(" ".join(w for w in words if w))

        leaf_base_price = np.exp(rng.uniform(np.log(6), np.log(300), n_leaves))
        self.price = _price_cents(leaf_base_price[self.leaf] * rng.lognormal(0, 0.35, n_products))
        self.in_stock = rng.random(n_products) < 0.91
        self.updated = first_midnight - rng.integers(3600, 365 * 86400, n_products)

    def evolve(self, day_start: int) -> None:
        """One night of catalogue changes: some items sell out, some come back, a few reprices."""
        rng, n = self.rng, len(self.ids)
        # 0.3 % sell out and 3 % of the missing ones return each day: about 91 % stay in stock.
        flips = np.where(self.in_stock, rng.random(n) < 0.003, rng.random(n) < 0.03)
        self.in_stock ^= flips
        repriced = rng.random(n) < 0.002
        factors = rng.uniform(0.85, 1.1, int(repriced.sum()))
        self.price[repriced] = _price_cents(self.price[repriced] / 100 * factors)
        changed = flips | repriced
        self.updated[changed] = day_start + rng.integers(3600, 5 * 3600, int(changed.sum()))

    def random_leaves(self, n: int) -> np.ndarray:
        """Leaves drawn in proportion to their size."""
        return weighted(self.rng, self.leaf_cdf, n)

    def popular_products(self, leaves: np.ndarray) -> np.ndarray:
        """One product per given leaf, drawn with Zipf-like (1/rank) popularity."""
        size = self.leaf_size[leaves]
        # Inverse CDF of a continuous 1/x law on [1, size + 1]: rank r has weight ~ 1/(r + 1.5).
        rank = np.floor((size + 1.0) ** self.rng.random(len(leaves))).astype(np.int64) - 1
        return self.by_popularity[self.leaf_start[leaves] + np.clip(rank, 0, size - 1)]

    def rows(self) -> list[list[str]]:
        """The catalogue snapshot as CSV rows."""
        return [
            [
                pid,
                self.titles[p],
                self.leaf_paths[self.leaf[p]],
                self.brands[p],
                f"{self.price[p] // 100}.{self.price[p] % 100:02d}",
                "EUR",
                "true" if self.in_stock[p] else "false",
                self.urls[p],
                iso_z(int(self.updated[p])),
            ]
            for p, pid in enumerate(self.ids)
        ]
