"""Real patent text that decides whether a reduced precision is faithful to fp32.

Claims, abstracts, description paragraphs and a query, 1 to about 150 tokens, from US grants of
2008-01-01 (the packaged ``ipg080101`` sample; US patent text is in the public domain).
"""

from __future__ import annotations

__all__ = ["PROBES"]

PROBES: tuple[str, ...] = (
    "hinge",
    "transmission power control of a user equipment in a wireless network",
    "The ornamental design for a timepiece face, as shown and described.",
    "A new, distinct Sedum telephium plant as shown and described, characterized by a thin green edge and "
    "chartreuse yellow center to the foliage.",
    "A plug comprising: a plug body; a fuse provided in the plug body, the fuse including a first contact "
    "terminal; a fixed electrode that is provided in the plug body, the fixed electrode being spaced apart "
    "from the first contact terminal; a spring that is provided in a compressed state between the fixed "
    "electrode and the first contact terminal of the fuse; and a conductive member coupled to a top surface "
    "of the first contact terminal and altered in form based on movement of the spring, the conductive "
    "member to electrically short-circuit the spring in order to provide an alternative electrical path "
    "between the fuse and the fixed electrode.",
    "The present invention consists of an antenna comprising at least two radiating structures, said "
    "radiating structures taking the form of two arms, said arms being made of or limited by a conductor, "
    "superconductor or semiconductor material, said two arms being coupled to each other through a region "
    "on first and second superconducting arms such that the combined structure of the coupled two-arms "
    "forms a small antenna with a broadband behavior, a multiband behavior or a combination of both effects.",
    "Within a mobile communications device, a method of roaming between a mobile network and a wireless "
    "network can include establishing a Voice-Over Internet Protocol communications link with an endpoint "
    "over which a call is conducted, wherein at least a portion of the call is conducted over the wireless "
    "network.",
    "Wireless networks are becoming increasingly prevalent with thousands of so called hotspots being "
    "deployed throughout the United States, Europe, and Asia. A hotspot refers to the coverage area "
    "surrounding a wireless access point within which a device can communicate wirelessly with the access "
    "point. The access point typically includes a wireless transceiver and is connected to a packet-switched "
    "communications network such as the Internet.",
)
