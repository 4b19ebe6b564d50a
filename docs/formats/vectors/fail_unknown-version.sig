{
  "custos_signatures": 2,
  "payload_type": "application/vnd.custos.example+json; version=1",
  "signatures": [
    {
      "key_id": "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9",
      "sig": "VJgkG90S1aoICHSeT5vNwe0ysbfl2GPCeQNc6T1x0exbUJQ6BspKWnszBI+sjvrEnetc7ZJDE5pPu8z0vw6zCQ=="
    }
  ]
}
