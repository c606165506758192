"""Whether a rule's "any deer" covers a classification: a small taxonomy of what camera traps see.

Users write alert rules in their own words ("roe deer", "deer", "Cervidae", "any carnivore") while
classifiers store a taxon and a common name at whatever rank they were sure of ("Capreolus capreolus"
/ "roe deer", or just "Cervidae" when the model rolled up). :func:`taxon_matches` bridges the two with
a built-in table of genera (family, order, class) and a few group words.

The table is a convenience for rules, not a reference taxonomy: it holds the genera camera traps commonly
see in Europe, North America, Africa and Asia, plus common ground birds. A taxon it does not know still
matches by its exact name, its common name or its genus (the first word of a binomial), never by a
family or order. A classification at a higher rank ("Cervidae") matches that rank and those above it
("deer", "Artiodactyla", "Mammalia") but not a more specific wish ("Capreolus capreolus"): the model
did not say which deer it saw.
"""

from __future__ import annotations

from collections.abc import Mapping

# class -> order -> family -> genera. Orders follow current usage (Artiodactyla includes what some
# sources call Cetartiodactyla, Eulipotyphla the old Insectivora; see _SYNONYMS).
_TREE: Mapping[str, Mapping[str, Mapping[str, str]]] = {
    "Mammalia": {
        "Artiodactyla": {
            "Cervidae": "Alces Axis Blastocerus Capreolus Cervus Dama Elaphodus Elaphurus Hippocamelus Hydropotes"
            " Mazama Muntiacus Odocoileus Ozotoceros Przewalskium Pudu Rangifer Rucervus Rusa",
            "Bovidae": "Addax Aepyceros Alcelaphus Ammotragus Antidorcas Antilope Beatragus Bison Bos Boselaphus"
            " Bubalus Budorcas Capra Capricornis Cephalophus Connochaetes Damaliscus Eudorcas Gazella Hemitragus"
            " Hippotragus Kobus Litocranius Madoqua Naemorhedus Nanger Neotragus Oreamnos Oreotragus Oryx Ourebia"
            " Ovibos Ovis Pelea Philantomba Procapra Pseudois Raphicerus Redunca Rupicapra Saiga Sylvicapra"
            " Syncerus Taurotragus Tetracerus Tragelaphus",
            "Suidae": "Babyrousa Hylochoerus Phacochoerus Porcula Potamochoerus Sus",
            "Tayassuidae": "Catagonus Dicotyles Pecari Tayassu",
            "Giraffidae": "Giraffa Okapia",
            "Hippopotamidae": "Choeropsis Hippopotamus",
            "Tragulidae": "Hyemoschus Moschiola Tragulus",
            "Moschidae": "Moschus",
            "Antilocapridae": "Antilocapra",
            "Camelidae": "Camelus Lama Vicugna",
        },
        "Perissodactyla": {
            "Equidae": "Equus",
            "Rhinocerotidae": "Ceratotherium Dicerorhinus Diceros Rhinoceros",
            "Tapiridae": "Tapirus",
        },
        "Proboscidea": {"Elephantidae": "Elephas Loxodonta"},
        "Carnivora": {
            "Canidae": "Canis Cerdocyon Chrysocyon Cuon Lupulella Lycalopex Lycaon Nyctereutes Otocyon Speothos"
            " Urocyon Vulpes",
            "Felidae": "Acinonyx Caracal Catopuma Felis Herpailurus Leopardus Leptailurus Lynx Neofelis"
            " Otocolobus Panthera Pardofelis Prionailurus Profelis Puma Uncia",
            "Ursidae": "Ailuropoda Helarctos Melursus Tremarctos Ursus",
            "Mustelidae": "Aonyx Arctonyx Eira Enhydra Galictis Gulo Hydrictis Ictonyx Lontra Lutra Lutrogale"
            " Martes Meles Mellivora Melogale Mustela Neogale Pekania Poecilogale Pteronura Taxidea Vormela",
            "Mephitidae": "Conepatus Mephitis Mydaus Spilogale",
            "Procyonidae": "Bassaricyon Bassariscus Nasua Nasuella Potos Procyon",
            "Viverridae": "Arctictis Arctogalidia Civettictis Genetta Hemigalus Paguma Paradoxurus Viverra Viverricula",
            "Prionodontidae": "Prionodon",
            "Herpestidae": "Atilax Bdeogale Crossarchus Cynictis Galerella Helogale Herpestes Ichneumia Mungos"
            " Rhynchogale Suricata Urva",
            "Hyaenidae": "Crocuta Hyaena Parahyaena Proteles",
            "Nandiniidae": "Nandinia",
            "Ailuridae": "Ailurus",
            "Eupleridae": "Cryptoprocta Fossa",
        },
        "Primates": {
            "Cercopithecidae": "Cercocebus Cercopithecus Chlorocebus Colobus Erythrocebus Lophocebus Macaca"
            " Mandrillus Papio Piliocolobus Presbytis Semnopithecus Trachypithecus",
            "Hominidae": "Gorilla Homo Pan Pongo",
            "Hylobatidae": "Hylobates Nomascus Symphalangus",
            "Lorisidae": "Nycticebus Perodicticus",
            "Galagidae": "Galago Otolemur",
            "Atelidae": "Alouatta Ateles",
            "Cebidae": "Cebus Saimiri Sapajus",
        },
        "Rodentia": {
            "Sciuridae": "Ammospermophilus Callosciurus Cynomys Dremomys Funisciurus Glaucomys Heliosciurus"
            " Ictidomys Lariscus Marmota Neotamias Otospermophilus Paraxerus Petaurista Protoxerus Pteromys Ratufa"
            " Sciurotamias Sciurus Spermophilus Tamias Tamiasciurus Urocitellus Xerus",
            "Castoridae": "Castor",
            "Muridae": "Apodemus Arvicanthis Bandicota Leopoldamys Mastomys Maxomys Micromys Mus Niviventer Rattus",
            "Cricetidae": "Arvicola Clethrionomys Cricetus Microtus Myodes Neotoma Ondatra Peromyscus"
            " Reithrodontomys Sigmodon",
            "Gliridae": "Dryomys Eliomys Glis Graphiurus Muscardinus",
            "Erethizontidae": "Coendou Erethizon",
            "Hystricidae": "Atherurus Hystrix Trichys",
            "Caviidae": "Cavia Dolichotis Hydrochoerus",
            "Dasyproctidae": "Dasyprocta Myoprocta",
            "Cuniculidae": "Cuniculus",
            "Heteromyidae": "Chaetodipus Dipodomys Perognathus",
            "Geomyidae": "Geomys Thomomys",
            "Aplodontiidae": "Aplodontia",
            "Echimyidae": "Myocastor",
            "Pedetidae": "Pedetes",
            "Thryonomyidae": "Thryonomys",
            "Nesomyidae": "Cricetomys",
        },
        "Lagomorpha": {
            "Leporidae": "Brachylagus Caprolagus Lepus Nesolagus Oryctolagus Poelagus Pronolagus Sylvilagus",
            "Ochotonidae": "Ochotona",
        },
        "Eulipotyphla": {
            "Erinaceidae": "Atelerix Echinosorex Erinaceus Hemiechinus Hylomys Mesechinus Paraechinus",
            "Soricidae": "Blarina Crocidura Cryptotis Neomys Sorex Suncus",
            "Talpidae": "Condylura Scalopus Scapanus Talpa",
        },
        "Didelphimorphia": {"Didelphidae": "Chironectes Didelphis Marmosa Metachirus Philander"},
        "Diprotodontia": {
            "Macropodidae": "Macropus Notamacropus Osphranter Petrogale Thylogale Wallabia",
            "Vombatidae": "Lasiorhinus Vombatus",
            "Phalangeridae": "Trichosurus",
            "Phascolarctidae": "Phascolarctos",
        },
        "Dasyuromorphia": {"Dasyuridae": "Antechinus Dasyurus Sarcophilus"},
        "Cingulata": {
            "Dasypodidae": "Dasypus",
            "Chlamyphoridae": "Cabassous Chaetophractus Euphractus Priodontes Tolypeutes",
        },
        "Pilosa": {
            "Myrmecophagidae": "Myrmecophaga Tamandua",
            "Bradypodidae": "Bradypus",
            "Choloepodidae": "Choloepus",
        },
        "Pholidota": {"Manidae": "Manis Phataginus Smutsia"},
        "Tubulidentata": {"Orycteropodidae": "Orycteropus"},
        "Hyracoidea": {"Procaviidae": "Dendrohyrax Heterohyrax Procavia"},
        "Scandentia": {"Tupaiidae": "Tupaia"},
        "Monotremata": {"Tachyglossidae": "Tachyglossus"},
        "Chiroptera": {"Vespertilionidae": "Eptesicus Myotis Nyctalus Pipistrellus Plecotus"},
    },
    "Aves": {
        "Galliformes": {
            "Phasianidae": "Alectoris Arborophila Argusianus Bambusicola Bonasa Catreus Centrocercus Chrysolophus"
            " Coturnix Crossoptilon Dendragapus Francolinus Gallus Ithaginis Lagopus Lophura Lyrurus Pavo Perdix"
            " Phasianus Polyplectron Pternistis Rollulus Scleroptila Syrmaticus Tetrao Tetrastes Tragopan"
            " Tympanuchus",
            "Meleagrididae": "Meleagris",
            "Odontophoridae": "Callipepla Colinus Cyrtonyx Dendrortyx Odontophorus Oreortyx",
            "Numididae": "Acryllium Guttera Numida",
            "Cracidae": "Aburria Crax Mitu Ortalis Pauxi Penelope Penelopina Pipile",
            "Megapodiidae": "Alectura Leipoa Megapodius",
        },
        "Passeriformes": {
            "Corvidae": "Aphelocoma Cissa Coloeus Corvus Cyanocitta Cyanocorax Cyanopica Dendrocitta Garrulus"
            " Gymnorhinus Nucifraga Perisoreus Pica Pyrrhocorax Urocissa",
            "Turdidae": "Catharus Geokichla Myadestes Sialia Turdus Zoothera",
            "Muscicapidae": "Copsychus Erithacus Luscinia Myophonus Oenanthe Phoenicurus",
            "Sturnidae": "Acridotheres Lamprotornis Sturnus",
            "Fringillidae": "Carduelis Chloris Coccothraustes Fringilla Haemorhous Pyrrhula",
            "Paridae": "Baeolophus Cyanistes Lophophanes Parus Periparus Poecile",
            "Passeridae": "Passer",
            "Motacillidae": "Anthus Motacilla",
            "Passerellidae": "Arremon Atlapetes Junco Melospiza Passerella Pipilo Spizella Zonotrichia",
            "Cardinalidae": "Cardinalis",
            "Icteridae": "Agelaius Molothrus Quiscalus Sturnella",
            "Mimidae": "Dumetella Mimus Toxostoma",
            "Pittidae": "Erythropitta Hydrornis Pitta",
            "Formicariidae": "Chamaeza Formicarius",
            "Grallariidae": "Grallaria",
            "Troglodytidae": "Troglodytes",
        },
        "Columbiformes": {
            "Columbidae": "Caloenas Chalcophaps Columba Ducula Geopelia Geotrygon Goura Leptotila Patagioenas"
            " Spilopelia Streptopelia Treron Turtur Zenaida",
        },
        "Accipitriformes": {
            "Accipitridae": "Accipiter Aegypius Aquila Butastur Buteo Circaetus Circus Geranoaetus Gypaetus Gyps"
            " Haliaeetus Harpia Hieraaetus Kaupifalco Melierax Milvus Necrosyrtes Neophron Nisaetus Parabuteo"
            " Pernis Spilornis Terathopius Torgos Trigonoceps",
            "Cathartidae": "Cathartes Coragyps Gymnogyps Vultur",
            "Sagittariidae": "Sagittarius",
        },
        "Falconiformes": {"Falconidae": "Caracara Daptrius Falco Herpetotheres Milvago"},
        "Strigiformes": {
            "Strigidae": "Aegolius Asio Athene Bubo Glaucidium Ketupa Megascops Ninox Otus Scotopelia Strix",
            "Tytonidae": "Tyto",
        },
        "Struthioniformes": {"Struthionidae": "Struthio"},
        "Rheiformes": {"Rheidae": "Rhea"},
        "Casuariiformes": {"Casuariidae": "Casuarius Dromaius"},
        "Tinamiformes": {"Tinamidae": "Crypturellus Nothoprocta Nothura Rhynchotus Tinamus"},
        "Otidiformes": {
            "Otididae": "Afrotis Ardeotis Chlamydotis Eupodotis Lissotis Lophotis Neotis Otis Tetrax",
        },
        "Gruiformes": {
            "Gruidae": "Anthropoides Antigone Balearica Grus Leucogeranus",
            "Rallidae": "Amaurornis Aramides Crex Fulica Gallinula Gallirallus Porphyrio Porzana Rallus",
        },
        "Pelecaniformes": {
            "Ardeidae": "Ardea Botaurus Bubulcus Butorides Egretta Ixobrychus Nycticorax Tigrisoma",
            "Threskiornithidae": "Bostrychia Geronticus Platalea Plegadis Threskiornis",
        },
        "Ciconiiformes": {"Ciconiidae": "Anastomus Ciconia Ephippiorhynchus Leptoptilos Mycteria"},
        "Anseriformes": {
            "Anatidae": "Aix Alopochen Anas Anser Aythya Branta Cairina Cygnus Dendrocygna Mareca Plectropterus"
            " Spatula Tadorna",
        },
        "Charadriiformes": {
            "Charadriidae": "Charadrius Pluvialis Vanellus",
            "Scolopacidae": "Calidris Gallinago Numenius Scolopax Tringa",
            "Burhinidae": "Burhinus",
            "Laridae": "Larus",
        },
        "Bucerotiformes": {
            "Bucorvidae": "Bucorvus",
            "Bucerotidae": "Anthracoceros Buceros Bycanistes Lophoceros Rhyticeros Tockus",
            "Upupidae": "Upupa",
        },
        "Cuculiformes": {"Cuculidae": "Carpococcyx Centropus Cuculus Geococcyx Neomorphus"},
        "Piciformes": {
            "Picidae": "Colaptes Dendrocopos Dryobates Dryocopus Jynx Leuconotopicus Melanerpes Picoides Picus",
        },
        "Coraciiformes": {"Coraciidae": "Coracias"},
        "Cariamiformes": {"Cariamidae": "Cariama Chunga"},
        "Caprimulgiformes": {"Caprimulgidae": "Caprimulgus Nyctidromus"},
    },
    "Reptilia": {
        "Squamata": {
            "Varanidae": "Varanus",
            "Teiidae": "Salvator Tupinambis",
            "Iguanidae": "Ctenosaura Iguana",
        },
        "Testudines": {"Testudinidae": "Chelonoidis Gopherus Kinixys Stigmochelys Testudo"},
        "Crocodylia": {"Crocodylidae": "Crocodylus"},
    },
}

GROUPS: Mapping[str, str] = {
    # A word for a group -> the taxon it means. Only words whose group is one taxon; "otter", "antelope",
    # "quail" or "porcupine" span several families and are left out rather than half right.
    **dict.fromkeys(("deer", "cervid"), "Cervidae"),
    **dict.fromkeys(("dog", "canid", "canine"), "Canidae"),
    **dict.fromkeys(("cat", "felid", "feline"), "Felidae"),
    **dict.fromkeys(("bear", "ursid"), "Ursidae"),
    **dict.fromkeys(("pig", "boar", "hog", "swine", "suid"), "Suidae"),
    "peccary": "Tayassuidae",
    "mustelid": "Mustelidae",
    "skunk": "Mephitidae",
    "procyonid": "Procyonidae",
    "bovid": "Bovidae",
    "equid": "Equidae",
    **dict.fromkeys(("rabbit", "hare", "leporid"), "Leporidae"),
    "lagomorph": "Lagomorpha",
    "squirrel": "Sciuridae",
    "beaver": "Castor",
    "rodent": "Rodentia",
    "hedgehog": "Erinaceidae",
    "mongoose": "Herpestidae",
    **dict.fromkeys(("hyena", "hyaena"), "Hyaenidae"),
    "genet": "Genetta",
    "elephant": "Elephantidae",
    **dict.fromkeys(("rhino", "rhinoceros"), "Rhinocerotidae"),
    **dict.fromkeys(("hippo", "hippopotamus"), "Hippopotamidae"),
    "giraffe": "Giraffa",
    "tapir": "Tapirus",
    "kangaroo": "Macropodidae",
    "armadillo": "Cingulata",
    "pangolin": "Manidae",
    "primate": "Primates",
    **dict.fromkeys(("carnivore", "carnivoran"), "Carnivora"),
    **dict.fromkeys(("mammal",), "Mammalia"),
    "bird": "Aves",
    **dict.fromkeys(("gamebird", "galliform"), "Galliformes"),
    "turkey": "Meleagris",
    "corvid": "Corvidae",
    **dict.fromkeys(("pigeon", "dove"), "Columbidae"),
    "owl": "Strigiformes",
    "woodpecker": "Picidae",
    "heron": "Ardeidae",
    "crane": "Gruidae",
    "bustard": "Otididae",
    "hornbill": "Bucerotiformes",
    "reptile": "Reptilia",
}

SPECIES: Mapping[str, str] = {
    # Common names -> scientific names, for the species users most often name in rules.
    "roe deer": "Capreolus capreolus",
    "red deer": "Cervus elaphus",
    "sika deer": "Cervus nippon",
    "fallow deer": "Dama dama",
    "moose": "Alces alces",
    **dict.fromkeys(("reindeer", "caribou"), "Rangifer tarandus"),
    "white-tailed deer": "Odocoileus virginianus",
    "mule deer": "Odocoileus hemionus",
    "muntjac": "Muntiacus",
    "wild boar": "Sus scrofa",
    "warthog": "Phacochoerus",
    **dict.fromkeys(("wolf", "gray wolf", "grey wolf"), "Canis lupus"),
    "coyote": "Canis latrans",
    "golden jackal": "Canis aureus",
    "red fox": "Vulpes vulpes",
    "raccoon dog": "Nyctereutes procyonoides",
    "eurasian lynx": "Lynx lynx",
    "bobcat": "Lynx rufus",
    "wildcat": "Felis silvestris",
    **dict.fromkeys(("domestic cat", "house cat"), "Felis catus"),
    "domestic dog": "Canis familiaris",
    "lion": "Panthera leo",
    "leopard": "Panthera pardus",
    "tiger": "Panthera tigris",
    "jaguar": "Panthera onca",
    **dict.fromkeys(("puma", "cougar", "mountain lion"), "Puma concolor"),
    "cheetah": "Acinonyx jubatus",
    "brown bear": "Ursus arctos",
    **dict.fromkeys(("black bear", "american black bear"), "Ursus americanus"),
    **dict.fromkeys(("badger", "european badger"), "Meles meles"),
    "american badger": "Taxidea taxus",
    "honey badger": "Mellivora capensis",
    "pine marten": "Martes martes",
    **dict.fromkeys(("stone marten", "beech marten"), "Martes foina"),
    "wolverine": "Gulo gulo",
    "eurasian otter": "Lutra lutra",
    "raccoon": "Procyon lotor",
    "striped skunk": "Mephitis mephitis",
    "spotted hyena": "Crocuta crocuta",
    "african elephant": "Loxodonta africana",
    "asian elephant": "Elephas maximus",
    "impala": "Aepyceros melampus",
    "chamois": "Rupicapra rupicapra",
    **dict.fromkeys(("ibex", "alpine ibex"), "Capra ibex"),
    **dict.fromkeys(("european bison", "wisent"), "Bison bonasus"),
    "american bison": "Bison bison",
    **dict.fromkeys(("european hare", "brown hare"), "Lepus europaeus"),
    "european rabbit": "Oryctolagus cuniculus",
    "red squirrel": "Sciurus vulgaris",
    **dict.fromkeys(("grey squirrel", "gray squirrel", "eastern gray squirrel"), "Sciurus carolinensis"),
    **dict.fromkeys(("opossum", "virginia opossum"), "Didelphis virginiana"),
    "nine-banded armadillo": "Dasypus novemcinctus",
    "aardvark": "Orycteropus afer",
    **dict.fromkeys(("wild turkey",), "Meleagris gallopavo"),
    **dict.fromkeys(("pheasant", "common pheasant"), "Phasianus colchicus"),
    **dict.fromkeys(("magpie", "eurasian magpie"), "Pica pica"),
    **dict.fromkeys(("jay", "eurasian jay"), "Garrulus glandarius"),
    **dict.fromkeys(("raven", "common raven"), "Corvus corax"),
    **dict.fromkeys(("horse", "domestic horse"), "Equus caballus"),
    **dict.fromkeys(("cattle", "cow"), "Bos taurus"),
    "sheep": "Ovis aries",
    "goat": "Capra hircus",
}

_SYNONYMS: Mapping[str, str] = {
    "cetartiodactyla": "Artiodactyla",
    "insectivora": "Eulipotyphla",
    "erinaceomorpha": "Eulipotyphla",
    "soricomorpha": "Eulipotyphla",
}


def _build() -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """Every known rank (casefolded) -> its lineage upwards, and -> its canonical spelling."""
    lineages: dict[str, tuple[str, ...]] = {}
    for klass, orders in _TREE.items():
        lineages[klass.casefold()] = (klass,)
        for order, families in orders.items():
            lineages[order.casefold()] = (order, klass)
            for family, genera in families.items():
                lineages[family.casefold()] = (family, order, klass)
                for genus in genera.split():
                    lineages[genus.casefold()] = (genus, family, order, klass)
    return lineages, {key: line[0] for key, line in lineages.items()}


_LINEAGES, _CANONICAL = _build()


def normalise(name: str) -> str:
    """Casefolded, single-spaced, without a leading "any ": how names are compared."""
    words = name.casefold().split()
    if len(words) > 1 and words[0] == "any":
        words = words[1:]
    return " ".join(words)


def lineage(taxon: str) -> tuple[str, ...]:
    """The taxon and the ranks above it that the table knows, most specific first.

    ``lineage("Capreolus capreolus")`` is ``("Capreolus capreolus", "Capreolus", "Cervidae", "Artiodactyla",
    "Mammalia")``; a subspecies adds its species; an unknown binomial gives itself and its genus only; a known
    rank is spelled as the table spells it (and a synonym such as "Cetartiodactyla" gives the table's name).
    """
    words = taxon.split()
    if not words:
        return ()
    name = " ".join(words)
    if len(words) == 1:
        key = _SYNONYMS.get(name.casefold(), name).casefold()
        return _LINEAGES.get(key, (name,))
    species = (name,) if len(words) == 2 else (name, " ".join(words[:2]))
    genus = words[0]
    return species + _LINEAGES.get(genus.casefold(), (genus,))


def _wanted_taxon(wanted: str) -> str:
    """What a rule entry means as a taxon (casefolded): a common name, a group word or the name itself."""
    for word in (wanted, wanted[:-1] if wanted.endswith("s") else wanted):
        if word in SPECIES:
            return SPECIES[word].casefold()
        if word in GROUPS:
            return GROUPS[word].casefold()
    return _SYNONYMS.get(wanted, wanted).casefold()


def _ranks(taxon: str | None, common_name: str | None) -> set[str]:
    """Everything a classification is (casefolded): its lineage, and the lineage its common name implies."""
    ranks: set[str] = set()
    if taxon and taxon.strip():
        ranks.update(rank.casefold() for rank in lineage(taxon))
    common = normalise(common_name) if common_name else ""
    if common and not ranks:
        implied = SPECIES.get(common) or GROUPS.get(common)
        if implied:
            ranks.update(rank.casefold() for rank in lineage(implied))
    return ranks


def taxon_matches(wanted: str, taxon: str | None, common_name: str | None) -> bool:
    """Whether the rule entry ``wanted`` covers a classification stored as ``taxon`` / ``common_name``.

    Case and spacing do not matter and a leading "any " is ignored: "any deer", "Deer" and "Cervidae" are
    the same wish. The classification matches when its taxon or common name is the wish, or when the wish
    is one of the ranks above its taxon (see :func:`lineage`). A classification with only a common name
    ("deer", "roe deer") is placed through the same common-name tables the wish is.
    """
    wish = normalise(wanted)
    if not wish:
        return False
    if (taxon is not None and normalise(taxon) == wish) or (common_name is not None and normalise(common_name) == wish):
        return True
    return _wanted_taxon(wish) in _ranks(taxon, common_name)


def species_choices() -> list[tuple[str, str]]:
    """What a form offers for a rule's species: (the taxon a rule stores, its common names and the taxon),
    species first then groups, each sorted by its first common name; a search box finds either spelling."""
    names: dict[str, list[str]] = {}
    for common, taxon in SPECIES.items():
        names.setdefault(taxon, []).append(common)
    groups: dict[str, list[str]] = {}
    for common, taxon in GROUPS.items():
        if taxon not in names:
            groups.setdefault(taxon, []).append(common)
    return [
        (taxon, f"{', '.join(commons)} ({taxon})")
        for table in (names, groups)
        for taxon, commons in sorted(table.items(), key=lambda item: item[1][0])
    ]
